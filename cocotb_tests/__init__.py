"""cocotb testbenches, RTL runner and scoreboard of the SNN core (docs/hdl.md)."""
