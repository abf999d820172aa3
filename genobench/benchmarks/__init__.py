"""The six benchmarks, one module or package per notebook of the same name.

Each exposes the calls its notebook makes; `records` holds what each one answers (question,
headline metric and its direction, key figure), read by the site and the README.
"""
