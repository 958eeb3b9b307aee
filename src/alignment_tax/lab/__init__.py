"""The alignment lab: train LoRA safety adapters on (prompt, target) pairs and check what they refuse."""
