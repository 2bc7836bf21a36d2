"""What is built from many releases: the portal column, the press hall, previews, reports."""
