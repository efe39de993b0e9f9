"""OrmCrudHandler and the tutorial's data chapters over the bus, on SQLite and PostgreSQL."""
