"""The seven research agents, their engines, corpus, publishing and translation."""
