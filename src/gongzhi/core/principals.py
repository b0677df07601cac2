"""The operator at the server's console (CLI, demo loader, migrations): may do anything, still audited."""


class SystemActor:
    is_authenticated = True
    is_active = True
    is_superuser = True
    pk = None
    username = "system"

    def __str__(self) -> str:
        return "system"


SYSTEM = SystemActor()


class RoutingActor(SystemActor):
    """智能分拨: the classifier routing a case on its own; audited under its own name."""

    username = "auto-routing"

    def __str__(self) -> str:
        return "auto-routing"


AUTO_ROUTING = RoutingActor()
