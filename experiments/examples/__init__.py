"""Worked examples: files a user writes to bring their own model (``--model FILE.py:factory``)."""
