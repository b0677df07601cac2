"""State changes of the deliberation module: proposals, matters and their steps, votes."""
