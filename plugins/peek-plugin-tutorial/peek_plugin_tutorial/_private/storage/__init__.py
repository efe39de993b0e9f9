"""The tutorial plugin's tables (schema ``pl_tutorial``)."""
