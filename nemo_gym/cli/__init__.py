"""Console scripts. Each module is thin: parse the config, call the library, print the result."""
