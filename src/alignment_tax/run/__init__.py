"""The run stage: plan requests, execute them on backends, write generations to the store."""
