"""What only the Pulumi program uses (``__main__.py``): the stack's keys and reading them, the rules across them,
the mapping to the components' and providers' arguments, and Pulumi's own ``aws:`` / ``aws-native:`` keys.

Modules, each importing only the ones listed before it:

- :mod:`program.provider_keys`: Pulumi's own ``aws:`` / ``aws-native:`` stack keys, passed on or refused;
- :mod:`program.settings_spec`: every key of the project's namespace, described once (``SETTINGS_SPEC``), and
  ``StackSettings``, the values of one stack;
- :mod:`program.component_args`: the providers' and each component's arguments, from the settings;
- :mod:`program.settings_rules`: the rules across settings, run on the arguments the stack would pass;
- :mod:`program.settings`: reading and validating a stack's configuration (``load_settings``).

Not part of the wheel: the reusable parts are ``components/`` (installed as ``healthimaging_setup``),
``healthimaging_functions/`` and ``ahiops/``.
"""
