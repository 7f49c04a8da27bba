"""Agent: configuration (flags and HCL file) and the wiring of server, client and HTTP."""
