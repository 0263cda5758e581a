"""Development tools (the documentation site builder): used from a checkout, never imported by the package"""
