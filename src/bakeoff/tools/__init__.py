"""Tool use: tool-call parsing and validation (calls), the built-in read-only repository tools
(repo), the tools a case may call (toolbox) and agent loops (loop)."""
