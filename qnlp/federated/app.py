"""The Flower apps of ``qnlp federate`` for real deployments
(``flower-superlink``, ``flower-supernode`` on each client machine,
``flwr run``): see ``examples/federated/`` and the README.

``client`` is the same ``ClientApp`` the simulation runs; each SuperNode
says which partition it holds (``--node-config "partition-id=K
num-partitions=N"``, and optionally ``data="PATH"`` where its copy of
the data lives). ``server`` reads the run from the run config
(``[tool.flwr.app.config]`` of the app's ``pyproject.toml``, or ``flwr
run --run-config``): ``task``, ``data``, ``out`` (the run directory on
the server's machine), ``settings`` (the task's settings as a JSON
object), the federation options ``clients``, ``rounds``, ``strategy``,
``proximal-mu``, ``partition``, ``clients-per-round``,
``client-schedule``, ``server-lr``, ``server-momentum``, and
``resume``.
"""
from __future__ import annotations

import json
from typing import Any

from flwr.serverapp import ServerApp

from qnlp.federated.core import FederatedSettings, Job, client_app, serve

client = client_app()
server = ServerApp()

#: run-config key -> FederatedSettings field
FEDERATION_KEYS = {'clients': 'clients', 'rounds': 'rounds',
                   'strategy': 'strategy', 'proximal-mu': 'proximal_mu',
                   'partition': 'partition',
                   'clients-per-round': 'clients_per_round',
                   'client-schedule': 'client_schedule',
                   'server-lr': 'server_lr',
                   'server-momentum': 'server_momentum'}


def job_from_run_config(config: dict[str, Any]) -> Job:
    """The :class:`Job` a run config describes (settings completed with
    the task's defaults, as ``qnlp federate`` stores them)."""
    from qnlp.tasks import get_task
    task = str(config['task'])
    settings = get_task(task).Settings.from_dict(
        json.loads(str(config.get('settings', '{}'))))
    federated = FederatedSettings(**{
        field: config[key] for key, field in FEDERATION_KEYS.items()
        if key in config})
    return Job(task, str(config['data']), settings.to_dict(), federated)


@server.main()
def main(grid: Any, context: Any) -> None:
    config = context.run_config
    serve(grid, job_from_run_config(config), str(config['out']),
          resume=bool(config.get('resume', False)))
