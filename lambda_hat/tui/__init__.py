"""The terminal app (``lambda-hat tui``); the only package that imports Textual."""
