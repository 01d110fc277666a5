"""Rendering: the checked model to HTML (Jinja2) and HTML to PDF (WeasyPrint)."""
