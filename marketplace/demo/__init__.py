"""Demo data: a realistic Qingdao marketplace for `make run` and for trying the product."""
