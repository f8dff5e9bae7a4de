"""Fakes of external providers: real HTTP servers on loopback that speak the providers protocols."""
