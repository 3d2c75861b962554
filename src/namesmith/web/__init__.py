"""The web page and JSON API served by ``namesmith serve``."""
