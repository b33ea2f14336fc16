"""The operation descriptors a workflow yields, and their contract with the interpreter (see ``base``)."""
