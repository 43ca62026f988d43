"""Federated training on Flower (``qnlp federate``): see
:mod:`qnlp.federated.core` for the client, the server and the engines,
:mod:`qnlp.federated.partition` for IID and Dirichlet partitions.

Flower is an optional dependency (``pip install 'qnlp[federated]'``);
this package imports it only when a run starts.
"""
from qnlp.federated.core import (FederatedSettings, Job, LocalGrid,
                                 client_app, federate, serve)
from qnlp.federated.partition import partition

__all__ = ['FederatedSettings', 'Job', 'LocalGrid', 'client_app',
           'federate', 'partition', 'serve']
