"""Email delivery over SMTP (being written)."""
