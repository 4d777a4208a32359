"""counterwatch: anti-counterfeiting for online marketplaces, from listing to conviction."""

__version__ = "0.1.0"
