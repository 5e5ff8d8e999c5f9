"""Text-to-SQL: the shop database, the examples, prompt formats, the read-only sandbox and execution accuracy."""
