"""Developer sentiment surveys: question bank, campaigns, anonymous responses, results."""
