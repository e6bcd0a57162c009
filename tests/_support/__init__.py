"""What the tests of several directories share: plain modules to import from, and the
pytest plugin (``tests._support.plugin``, registered in tests/conftest.py) whose
fixtures every test can ask for. No test imports another directory's conftest."""
