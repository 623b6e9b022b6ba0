# tests fragment (owned by the tests work)
