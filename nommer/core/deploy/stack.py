"""The CloudFormation stack of a farm (deploy/cloudformation/nommer.yaml):
create or update it, wait for it, and turn its Outputs into nommer settings.

Each Output of the template is one setting: its name in snake_case is the
setting's key (``Ec2LaunchTemplate`` is ``ec2_launch_template``), since
CloudFormation names allow letters and digits only.
"""

import json
import pathlib
import re
import sys
import tomllib

import nommer
from nommer.core import config as config_mod
from nommer.core.errors import ConfigError, NommerError

TEMPLATE = "nommer.yaml"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}\Z")
BUSY = ("_IN_PROGRESS",)
FAILED_CREATE = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED")
BLOCK_START = "# -- from CloudFormation stack {name} (nommer aws deploy) --"
BLOCK_END = "# -- end of the stack's settings --"


class StackError(NommerError):
    code = "STACK"


def template_path():
    """deploy/cloudformation/nommer.yaml of a source checkout, else the copy
    a wheel installs in <prefix>/share/nommer/cloudformation."""
    for folder in (pathlib.Path(nommer.__file__).resolve().parent.parent / "deploy" / "cloudformation",
                   pathlib.Path(sys.prefix) / "share" / "nommer" / "cloudformation"):
        if (folder / TEMPLATE).is_file():
            return folder / TEMPLATE
    raise ConfigError(f"cannot find the stack template {TEMPLATE}; reinstall nommer")


def setting_key(output_key):
    """``Ec2LaunchTemplate`` -> ``ec2_launch_template``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", output_key).lower()


def settings_of(outputs):
    """``{setting key: value}`` of a stack's Outputs (``[{OutputKey, OutputValue}]``),
    each value converted to its setting's type when nommer knows the setting."""
    found = {}
    for output in outputs:
        key = setting_key(output["OutputKey"])
        value = output["OutputValue"]
        setting = config_mod.SETTINGS_BY_NAME.get(key)
        kind = setting.kind if setting is not None else "str"
        try:
            if kind == "int":
                value = int(value)
            elif kind == "float":
                value = float(value)
            elif kind == "bool":
                value = {"true": True, "false": False}[value.lower()]
            elif kind == "list":
                value = [part for part in value.split(setting.separator) if part]
        except (ValueError, KeyError):
            raise StackError(f"stack output {output['OutputKey']} ({key}): {value!r} is not "
                             f"a {kind}") from None
        found[key] = value
    return found


def template_parameters(body):
    """Names of the Parameters of a YAML template (its top-level section;
    read without a YAML library, which nommer does not need otherwise)."""
    names, inside = set(), False
    for line in body.splitlines():
        if re.match(r"^[A-Za-z]", line):
            inside = line.rstrip() == "Parameters:"
        elif inside:
            match = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
            if match:
                names.add(match.group(1))
    return names


def _aws_error(e):
    from nommer.core.adapters import aws

    return aws.describe(e)


class Deployer:
    """Creates or updates one stack with boto3 and waits for the end."""

    def __init__(self, name, region=None, client=None, say=lambda text: None, delay=5):
        from nommer.core.adapters import aws

        if not _STACK_NAME.match(name or ""):
            raise ConfigError(f"--stack-name: {name!r} is not a CloudFormation stack name "
                              "(a letter, then up to 127 letters, digits and hyphens)")
        self.name = name
        self.client = client or aws.client("cloudformation", region)
        self.say = say
        self.delay = delay

    def _stack(self):
        import botocore.exceptions

        try:
            return self.client.describe_stacks(StackName=self.name)["Stacks"][0]
        except botocore.exceptions.ClientError as e:
            if "does not exist" in str(e):
                return None
            raise StackError(f"cannot look at stack {self.name}: {_aws_error(e)}") from None
        except botocore.exceptions.NoCredentialsError:
            raise ConfigError("no AWS credentials found: nommer uses boto3's default chain "
                              "(AWS_PROFILE, the environment, SSO)") from None
        except botocore.exceptions.BotoCoreError as e:
            raise StackError(f"cannot look at stack {self.name}: {_aws_error(e)}") from None

    def _check_parameters(self, body, parameters):
        known = template_parameters(body)
        unknown = sorted(set(parameters) - known)
        if unknown:
            raise ConfigError(f"--parameter: the stack has no parameter {', '.join(unknown)} "
                              f"(it has {', '.join(sorted(known))})")
        return known

    def _failures(self):
        try:
            events = self.client.describe_stack_events(StackName=self.name)["StackEvents"]
        except Exception:  # the reasons are a courtesy; the failure is reported anyway
            return ""
        reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
                   for e in events if e.get("ResourceStatus", "").endswith("_FAILED")]
        return "; ".join(reasons[:5])

    def _wait(self, waiter, what):
        import botocore.exceptions

        try:
            self.client.get_waiter(waiter).wait(
                StackName=self.name, WaiterConfig={"Delay": self.delay, "MaxAttempts": 720})
        except botocore.exceptions.WaiterError:
            stack = self._stack() or {}
            status = stack.get("StackStatus", "gone")
            reasons = self._failures()
            raise StackError(f"stack {self.name}: {what} failed, it is {status}"
                             + (f": {reasons}" if reasons else "")) from None

    def deploy(self, parameters=None, body=None):
        """Create the stack, or update it (parameters not given keep their
        values); returns its settings."""
        import botocore.exceptions

        parameters = dict(parameters or {})
        body = body if body is not None else template_path().read_text()
        known = self._check_parameters(body, parameters)
        stack = self._stack()
        if stack is not None:
            status = stack["StackStatus"]
            if status.endswith(BUSY):
                raise StackError(f"stack {self.name} is busy ({status}); run again once it is done")
            if status in FAILED_CREATE:
                raise StackError(f"stack {self.name} is {status}: its creation failed and it "
                                 f"cannot be updated; delete it (aws cloudformation delete-stack "
                                 f"--stack-name {self.name}) and deploy again")
        given = [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in sorted(parameters.items())]
        try:
            if stack is None:
                self.say(f"creating stack {self.name}")
                self.client.create_stack(StackName=self.name, TemplateBody=body,
                                         Parameters=given, Capabilities=CAPABILITIES,
                                         OnFailure="ROLLBACK")
                self._wait("stack_create_complete", "creation")
            else:
                previous = {p["ParameterKey"] for p in stack.get("Parameters", [])}
                kept = [{"ParameterKey": k, "UsePreviousValue": True}
                        for k in sorted((previous & known) - set(parameters))]
                self.say(f"updating stack {self.name}")
                try:
                    self.client.update_stack(StackName=self.name, TemplateBody=body,
                                             Parameters=given + kept, Capabilities=CAPABILITIES)
                except botocore.exceptions.ClientError as e:
                    if "No updates are to be performed" not in str(e):
                        raise
                    self.say(f"stack {self.name} is up to date")
                else:
                    self._wait("stack_update_complete", "update")
        except botocore.exceptions.ClientError as e:
            raise StackError(f"stack {self.name}: CloudFormation refused: {_aws_error(e)}") from None
        except botocore.exceptions.BotoCoreError as e:
            raise StackError(f"stack {self.name}: {_aws_error(e)}") from None
        return settings_of(self._stack().get("Outputs", []))


# -- nommer.toml -----------------------------------------------------------------------


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a TOML basic string


def settings_block(stack_name, settings):
    lines = [BLOCK_START.format(name=stack_name)]
    lines += [f"{key} = {toml_value(value)}" for key, value in settings.items()]
    return "\n".join(lines + [BLOCK_END]) + "\n"


def write_settings(path, stack_name, settings):
    """Put the stack's settings at the top of the TOML file ``path``, in
    place of an earlier block of this command; the file's other lines stay.
    Refuses (changing nothing) a file that sets one of them itself."""
    path = pathlib.Path(path)
    old = path.read_text() if path.exists() else ""
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("# -- from CloudFormation stack ")), None)
    if start is not None:
        end = next((i for i in range(start, len(lines)) if lines[i].strip() == BLOCK_END), None)
        if end is None:
            raise ConfigError(f"{path}: its block of stack settings has no end line "
                              f"{BLOCK_END!r}; fix or remove the block")
        lines = lines[:start] + lines[end + 1:]
    rest = "".join(lines)
    try:
        mine = tomllib.loads(rest)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None
    clash = sorted(set(mine) & set(settings))
    if clash:
        raise ConfigError(f"{path} sets {', '.join(clash)} itself, which the stack's outputs "
                          "set; remove those lines and run again")
    text = settings_block(stack_name, settings) + rest
    tomllib.loads(text)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text)
    partial.replace(path)
    return text
