"""Analysis → output, and nothing else: the terminal report (text), the versioned JSON documents
(documents), and exact numbers as text (exact_text)."""
