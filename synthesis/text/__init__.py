"""The text front-end: pure Python, no Django. Until the text front-end issue lands, a plain
sentence splitter and a small, safe SSML reader (text and <break>) stand in."""
