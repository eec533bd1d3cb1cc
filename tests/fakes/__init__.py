"""Stand-ins for what lives across the network: Dashly's Web API on loopback."""
