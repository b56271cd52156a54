"""gatewarden: offline abuse detection for generative-AI APIs.

Data flows one way: sources -> parse -> canonical requests -> enrich -> features
-> detectors -> findings -> decisions -> emitters/reports.
"""

__version__ = "0.1.0"
