"""How `licentia serve` runs uvicorn: HTTP protocols with connection limits, open-files limit."""
