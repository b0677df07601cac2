"""Demo data for deliberation: a compound whose owners vote, a village matter mid-process, open proposals."""
