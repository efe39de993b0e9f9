"""Worker tasks using the database (CeleryDbConn) and passing bus tuples."""
