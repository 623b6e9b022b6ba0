# examples fragment (owned by the examples work)
