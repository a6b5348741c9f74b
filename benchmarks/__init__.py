"""Benchmarks: ``inprocess.py`` drives ASGI apps directly, ``wire.py`` loads real servers."""
