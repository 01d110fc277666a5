"""protocolc: compiler and validator for hospital clinical-protocol sheets."""

__version__ = "0.1.0"
