"""qnlp: quantum natural language processing and sequence classification.

Sentences become DisCoCat string diagrams, diagrams become parameterised
circuits, and circuits are simulated exactly and in batch by
:class:`qnlp.engine.Engine` to train quantum classifiers.
"""
__version__ = "0.1.0"
