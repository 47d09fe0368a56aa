"""The sandbox DNS server's parts: zone data, propagation, resolution, wire protocol, Route53."""
