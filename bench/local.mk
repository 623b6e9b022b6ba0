# bench fragment (owned by the bench work)
