"""Text rules: Chinese line breaking, the 错敏 list and punctuation checks."""
