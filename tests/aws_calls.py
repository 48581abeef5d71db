"""The AWS calls each Lambda function can make, read statically from app.py and chalicelib.

From each entry point of the Chalice app (the routes together, each event handler), the
functions it can reach are followed through the source, and in each of them the calls
that reach AWS are recognised:

- PynamoDB on a model class (`M.get`, `M.query`, `M.by_x.query`, `M.batch_get`, ...) or on a
  model instance (`x.save`, `x.update`, `x.delete`, `x.refresh`, in a `TransactWrite` too),
  the instance's model read from how `x` was made (`M(...)`, `M.get(...)`, a loop over a
  query, an annotation, a function's return annotation);
- low-level requests: a dict with `"TableName": M.Meta.table_name` (directly, through a
  local name, or through a parameter whose callers pass it), its action from where the dict
  goes (under "Put"/"Update"/"Delete"/"ConditionCheck"/"Get" of a transaction, the keyword
  arguments of `put_item(...)`, a name or a return value later used so);
- botocore client calls by operation name (S3, SQS, SNS, SSM), and the SSM parameters the
  code names through a `*_parameter` setting.

Calls between functions are followed by name through imports; a method called on a
receiver of unknown class is taken to be that method of each of our classes the reached
code names (rapid type analysis). What cannot be told (a `.save()` on something whose model
is unknown, a request dict whose action is not visible, a low-level call without its
table) is an error naming the line: give the name an annotation, or build the request
where its action shows. What it cannot follow at all it does not see: a call made through
`getattr`, a model class taken out of a container. Keep AWS calls to the forms above.
Nothing here imports the code it reads.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# botocore operation (snake case) -> the IAM actions it is authorised as.
OPERATION_ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "dynamodb": {
        "get_item": ("dynamodb:GetItem",),
        "put_item": ("dynamodb:PutItem",),
        "update_item": ("dynamodb:UpdateItem",),
        "delete_item": ("dynamodb:DeleteItem",),
        "query": ("dynamodb:Query",),
        "scan": ("dynamodb:Scan",),
        "batch_get_item": ("dynamodb:BatchGetItem",),
        "batch_write_item": ("dynamodb:BatchWriteItem",),
        # No IAM action of its own: each item is authorised as its Put/Update/... (below).
        "transact_write_items": (),
        "transact_get_items": (),
        "describe_table": ("dynamodb:DescribeTable",),
        "create_table": ("dynamodb:CreateTable",),
        "update_table": ("dynamodb:UpdateTable",),
        "update_time_to_live": ("dynamodb:UpdateTimeToLive",),
    },
    "s3": {
        "put_object": ("s3:PutObject",),
        "create_multipart_upload": ("s3:PutObject",),
        "upload_part": ("s3:PutObject",),
        "complete_multipart_upload": ("s3:PutObject",),
        # Copying a range of another object into a part: written as PutObject, read as GetObject.
        "upload_part_copy": ("s3:PutObject", "s3:GetObject"),
        "get_object": ("s3:GetObject",),
        "head_object": ("s3:GetObject",),
        "abort_multipart_upload": ("s3:AbortMultipartUpload",),
    },
    "sqs": {
        "send_message": ("sqs:SendMessage",),
        "send_message_batch": ("sqs:SendMessage",),
        "change_message_visibility": ("sqs:ChangeMessageVisibility",),
        "get_queue_url": ("sqs:GetQueueUrl",),
    },
    "sns": {"publish": ("sns:Publish",)},
    "ssm": {"get_parameter": ("ssm:GetParameter",)},
}
_OPERATION_SERVICE = {op: service for service, ops in OPERATION_ACTIONS.items() for op in ops}

# PynamoDB's model class methods and instance methods -> the DynamoDB action each sends.
_CLASS_METHODS = {
    "get": "dynamodb:GetItem",
    "query": "dynamodb:Query",
    "count": "dynamodb:Query",
    "scan": "dynamodb:Scan",
    "batch_get": "dynamodb:BatchGetItem",
    "batch_write": "dynamodb:BatchWriteItem",
    "exists": "dynamodb:DescribeTable",
    "describe_table": "dynamodb:DescribeTable",
    "create_table": "dynamodb:CreateTable",
    "delete_table": "dynamodb:DeleteTable",
}
_INSTANCE_METHODS = {
    "save": "dynamodb:PutItem",
    "update": "dynamodb:UpdateItem",
    "delete": "dynamodb:DeleteItem",
    "refresh": "dynamodb:GetItem",
    # The request of a transaction's item, as PynamoDB's TransactWrite builds it (sent by the caller).
    "get_update_kwargs_from_instance": "dynamodb:UpdateItem",
    "get_save_kwargs_from_instance": "dynamodb:PutItem",
}
_TRANSACTION_METHODS = {
    "save": "dynamodb:PutItem",
    "update": "dynamodb:UpdateItem",
    "delete": "dynamodb:DeleteItem",
    "condition_check": "dynamodb:ConditionCheckItem",
}
_TRANSACT_KEYS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
# Keywords only PynamoDB's instance methods take (dict.update, PIL's save take none of them).
_PYNAMODB_KEYWORDS = {"condition", "actions", "consistent_read", "settings", "add_version_condition"}

# Code that runs only where a setting is absent, which every AWS stage sets: its calls are
# left out, each with the reason.
LOCAL_ONLY = {
    # The queue's URL comes as EXPORT_QUEUE_URL from the template; only the local stack,
    # which knows the queue by name, looks it up.
    "chalicelib.adapters.sqs._queue_url",
}


# What an instance runs without a method being named: making it, `with`, iterating, calling.
_IMPLICIT_METHODS = ("__init__", "__post_init__", "__enter__", "__exit__", "__iter__", "__next__", "__call__")


def _own_body(node: ast.AST) -> list[ast.AST]:
    """A function's decorators and body; a module's own statements, not the functions and classes in it."""
    if isinstance(node, ast.Module):
        return [s for s in node.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return [*node.decorator_list, *node.body]  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Call:
    """One AWS action the code can make: on a DynamoDB table (`index` when on one of its
    indexes), an SSM parameter, or a service's one resource (`target` empty)."""

    action: str
    target: str = ""
    index: str = ""


@dataclass
class _Function:
    name: str  # module.function or module.Class.method
    module: str
    node: ast.AST
    cls: str | None = None
    calls: set[Call] = field(default_factory=set)
    # Calls made on a parameter's record, by the caller that passes it: they count only
    # where that caller is reached (`records.create` puts a draw, a campaign or a reward
    # for the API's routes; the draw runner reaches it too, but none of those callers).
    calls_via: dict[str, set[Call]] = field(default_factory=dict)
    edges: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    returns: ast.expr | None = None
    types: dict[str, str] = field(default_factory=dict)  # local name -> class (models included)
    returned_requests: list[tuple[str, str, int]] = field(default_factory=list)
    request_uses: list[tuple[str, str]] = field(default_factory=list)  # (builder function, action)
    parameter_settings: set[str] = field(default_factory=set)
    pending: list[tuple[str, str, int]] = field(default_factory=list)  # (parameter, action, line)
    instantiates: set[str] = field(default_factory=set)  # our classes it names (makes, subclasses, holds)
    method_names: set[str] = field(default_factory=set)  # methods it calls on receivers of unknown class


class _Module:
    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.tree = ast.parse(path.read_text(), str(path))
        self.imports: dict[str, str] = {}  # local name -> dotted target
        self.defs: dict[str, ast.AST] = {}
        self.var_types: dict[str, str] = {}
        self.type_vars: set[str] = set()
        # Imports anywhere in the file (a function's own import included): a name means one thing per module.
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports.setdefault(
                        alias.asname or alias.name.split(".")[0],
                        alias.name if alias.asname else alias.name.split(".")[0],
                    )
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.imports.setdefault(alias.asname or alias.name, f"{node.module}.{alias.name}")
        for node in self.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.defs[node.name] = node
            elif (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name)
                and node.value.func.id == "TypeVar"
            ):
                self.type_vars.update(t.id for t in node.targets if isinstance(t, ast.Name))


class Program:
    """app.py and chalicelib, read once: functions, classes, models and what each function calls."""

    def __init__(self, root: Path = ROOT) -> None:
        self.root = root
        self.modules: dict[str, _Module] = {}
        for path in [root / "app.py", *sorted((root / "chalicelib").rglob("*.py"))]:
            if "build" in path.relative_to(root).parts:
                continue
            relative = path.relative_to(root).with_suffix("")
            parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
            self.modules[".".join(parts)] = _Module(".".join(parts), path)
        self.functions: dict[str, _Function] = {}
        self.passed: dict[tuple[str, str], list[str]] = {}
        self.classes: dict[str, tuple[_Module, ast.ClassDef]] = {}
        for module in self.modules.values():
            self._index(module)
        self.models = self._models()
        self.parameter_settings = self._parameter_settings()
        self._call_sites: dict[str, list[tuple[_Function, ast.Call]]] | None = None
        for module in self.modules.values():
            self._module_types(module)
        for function in list(self.functions.values()):
            self._read(function)
        self._resolve_returned_requests()
        self._resolve_pending()

    # --- names ---

    def _index(self, module: _Module) -> None:
        top = _Function(f"{module.name}.<module>", module.name, module.tree)
        self.functions[top.name] = top
        for name, node in module.defs.items():
            if isinstance(node, ast.ClassDef):
                self.classes[f"{module.name}.{name}"] = (module, node)
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self._add_function(module, item, f"{module.name}.{name}.{item.name}", cls=name)
            else:
                self._add_function(module, node, f"{module.name}.{name}")

    def _add_function(self, module: _Module, node, name: str, cls: str | None = None) -> None:
        function = _Function(name, module.name, node, cls=cls, returns=node.returns)
        function.params = [a.arg for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]]
        self.functions[name] = function

    def resolve(self, module: _Module, expr: ast.expr) -> str | None:
        """The dotted name a Name or attribute chain stands for in `module` (a module, class or function)."""
        if isinstance(expr, ast.Name):
            if expr.id in module.defs:
                return self._canonical(f"{module.name}.{expr.id}")
            if expr.id in module.imports:
                return self._canonical(module.imports[expr.id])
            return None
        if isinstance(expr, ast.Attribute):
            base = self.resolve(module, expr.value)
            return self._canonical(f"{base}.{expr.attr}") if base else None
        return None

    def _canonical(self, dotted: str, depth: int = 0) -> str:
        """Follow re-exports: `pkg.name` imported into pkg from elsewhere is that elsewhere."""
        if dotted in self.modules or dotted in self.functions or dotted in self.classes or depth > 5:
            return dotted
        head, _, tail = dotted.rpartition(".")
        if head in self.modules and tail in self.modules[head].imports:
            return self._canonical(self.modules[head].imports[tail], depth + 1)
        if head and head not in self.modules:
            owner = self._canonical(head, depth + 1)
            if owner != head:
                return self._canonical(f"{owner}.{tail}", depth + 1)
        return dotted

    def _parameter_settings(self) -> set[str]:
        """The settings that name an SSM parameter: Settings fields ending in `_parameter`."""
        _, node = self.classes["chalicelib.config.Settings"]
        return {
            s.target.id
            for s in node.body
            if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name) and s.target.id.endswith("_parameter")
        }

    def _module_types(self, module: _Module) -> None:
        """Module-level names bound to an instance of one of our classes (`LOOKUPS = LookupCache()`)."""
        top = self.functions[f"{module.name}.<module>"]
        for node in module.tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                target = self.resolve(module, node.value.func)
                if target in self.classes:
                    for name in node.targets:
                        if isinstance(name, ast.Name):
                            module.var_types[name.id] = target
                            top.types[name.id] = target

    def method_of(self, cls: str, name: str, depth: int = 0) -> str | None:
        """`cls.name` if the class or one of our base classes defines it."""
        if f"{cls}.{name}" in self.functions:
            return f"{cls}.{name}"
        if cls not in self.classes or depth > 5:
            return None
        module, node = self.classes[cls]
        for base in node.bases:
            target = self.resolve(module, base)
            if target in self.classes:
                found = self.method_of(target, name, depth + 1)
                if found:
                    return found
        return None

    def call_sites(self, callee: str) -> list[tuple[_Function, ast.Call]]:
        """Every call of one of our functions or methods, with the function it is in."""
        if self._call_sites is None:
            self._call_sites = {}
            for function in self.functions.values():
                module = self.modules[function.module]
                for statement in _own_body(function.node):
                    for node in ast.walk(statement):
                        if not isinstance(node, ast.Call):
                            continue
                        target = self.resolve(module, node.func)
                        if (
                            target is None
                            and isinstance(node.func, ast.Attribute)
                            and isinstance(node.func.value, ast.Name)
                        ):
                            owner = function.types.get(node.func.value.id) or module.var_types.get(node.func.value.id)
                            if node.func.value.id == "self" and function.cls:
                                owner = f"{function.module}.{function.cls}"
                            target = self.method_of(owner, node.func.attr) if owner else None
                        if target:
                            self._call_sites.setdefault(target, []).append((function, node))
        return self._call_sites.get(callee, [])

    def _resolve_pending(self) -> None:
        """`record.save()` on a parameter whose model the function does not say: the models its
        callers pass, each counted only where its caller is reached (`calls_via`)."""
        for function in self.functions.values():
            for param, action, line in function.pending:
                position = function.params.index(param) - (1 if function.cls else 0)
                sites = self.call_sites(function.name)
                for caller, call in sites:
                    args = [kw.value for kw in call.keywords if kw.arg == param]
                    if 0 <= position < len(call.args):
                        args.append(call.args[position])
                    reader = _Reader(self, self.modules[caller.module], caller)
                    for arg in args:
                        model = reader.model_of(arg)
                        if model:
                            function.calls_via.setdefault(caller.name, set()).update(
                                Call(action, self.models[m]) for m in model.split("|")
                            )
                        else:
                            function.problems.append(
                                f"{self.modules[caller.module].path.relative_to(self.root)}:{call.lineno}: cannot tell "
                                f"the model passed as `{param}` to {function.name}"
                            )
                if not sites:
                    function.problems.append(f"{function.name}:{line}: `{param}` is never passed a model")

    def _models(self) -> dict[str, str]:
        """Dotted class name -> table suffix of every PynamoDB model (a class with Meta.table_suffix)."""
        found = {dotted: _meta_constant(node, "table_suffix") for dotted, (_, node) in self.classes.items()}
        return {dotted: suffix for dotted, suffix in found.items() if suffix}

    def _indexes(self, model: str) -> dict[str, str]:
        """Attribute name -> index name of a model's indexes (an index class's Meta.index_name)."""
        module, node = self.classes[model]
        found = {}
        for statement in node.body:
            if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
                target = self.resolve(module, statement.value.func)
                index = _meta_constant(self.classes[target][1], "index_name") if target in self.classes else None
                if index:
                    found.update((t.id, index) for t in statement.targets if isinstance(t, ast.Name))
        return found

    # --- reading one function ---

    def _read(self, function: _Function) -> None:
        module = self.modules[function.module]
        reader = _Reader(self, module, function)
        reader.run()

    def _resolve_returned_requests(self) -> None:
        """Requests built by one function and returned: their action is where the callers put them."""
        for function in self.functions.values():
            for table, index, line in function.returned_requests:
                actions = set()
                for caller in self.functions.values():
                    for callee, action in caller.request_uses:
                        if callee == function.name:
                            actions.add(action)
                if not actions:
                    function.problems.append(f"{function.name}:{line}: a request whose action no caller shows")
                # Attributed to the builder: reachable from exactly the callers that use it.
                for action in actions:
                    function.calls.add(Call(action, table, index))

    # --- reachability ---

    def reachable(self, entries: list[str]) -> set[str]:
        """The functions `entries` can reach. A method called on a receiver whose class is not
        known is taken to be that method of every one of our classes the reached code names
        (rapid type analysis): `text.encode()` reaches no QR encoder unless QR code is reached."""
        seen: set[str] = set()
        todo = list(entries)
        names: set[str] = set()
        classes: set[str] = set()
        while todo:
            while todo:
                name = todo.pop()
                if name in seen or name not in self.functions or name in LOCAL_ONLY:
                    continue
                seen.add(name)
                function = self.functions[name]
                todo.append(f"{function.module}.<module>")
                todo.extend(function.edges)
                names |= function.method_names
                classes |= function.instantiates
            todo = [m for c in classes for n in names if (m := self.method_of(c, n)) and m not in seen]
        return seen

    def calls_of(self, entries: list[str]) -> tuple[set[Call], list[str]]:
        """The calls the functions reachable from `entries` make, and what could not be told."""
        reached = self.reachable(entries)
        calls: set[Call] = set()
        problems: list[str] = []
        parameters: set[str] = set()
        for name in reached:
            calls |= self.functions[name].calls
            for caller, passed in self.functions[name].calls_via.items():
                if caller in reached:
                    calls |= passed
            problems += self.functions[name].problems
            parameters |= self.functions[name].parameter_settings
        if any(call.action == "ssm:GetParameter" for call in calls):
            calls = {call for call in calls if call.action != "ssm:GetParameter"}
            calls |= {Call("ssm:GetParameter", setting) for setting in parameters}
        return calls, sorted(set(problems))

    def constructors(self, dotted: str) -> Iterator[str]:
        """What making or using an instance runs without naming a method: __init__, __enter__, ..."""
        for name in _IMPLICIT_METHODS:
            found = self.method_of(dotted, name)
            if found:
                yield found


class _Reader:
    """One pass over one function's body: its edges, its AWS calls, its request dicts."""

    def __init__(self, program: Program, module: _Module, function: _Function) -> None:
        self.program = program
        self.module = module
        self.function = function
        self.tables: dict[str, tuple[str, str]] = {}  # local name -> (table suffix, index)
        self.requests: dict[str, tuple[str, str, int]] = {}  # local name holding a request dict
        self.transactions: set[str] = set()
        self.model_classes: dict[str, str] = {}  # local name -> the model class it holds (`model = type(item)`)
        self.parents: dict[int, ast.AST] = {}
        self.types = function.types

    def _walk(self) -> Iterator[ast.AST]:
        for statement in _own_body(self.function.node):
            for node in ast.walk(statement):
                for child in ast.iter_child_nodes(node):
                    self.parents[id(child)] = node
                yield node

    def run(self) -> None:
        nodes = list(self._walk())
        node = self.function.node
        if not isinstance(node, ast.Module):
            self._bind_params(node)
        for item in nodes:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                self._bind_params(item)  # a function nested in this one: its calls are this one's
        # Two passes: names bound later in the source (loops) are known on the second.
        for _ in range(2):
            for item in nodes:
                self._bind(item)
        for item in nodes:
            self._edges(item)
            if isinstance(item, ast.Call):
                self._call(item)
            elif isinstance(item, ast.Dict):
                self._request(item)
            elif isinstance(item, ast.Attribute) and item.attr in self.program.parameter_settings:
                self.function.parameter_settings.add(item.attr)

    # --- what names hold ---

    def _bind_params(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        """What a function's parameters hold, by their annotations."""
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
            if self._annotation_is_transaction(arg.annotation):
                # `def items(tx: TransactWrite)`: the items of a transaction its caller sends.
                self.transactions.add(arg.arg)
                continue
            found = self._annotation_model(arg.annotation) or self._annotation_class(arg.annotation)
            if found:
                self.types[arg.arg] = found

    def _annotation_is_transaction(self, annotation: ast.expr | None) -> bool:
        """Whether an annotation names PynamoDB's TransactWrite."""
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            annotation = ast.parse(annotation.value, mode="eval").body
        if annotation is None:
            return False
        return self.program.resolve(self.module, annotation) == "pynamodb.transactions.TransactWrite"

    def _annotation_model(self, annotation: ast.expr | None) -> str | None:
        """Every model an annotation names (`Campaign | Batch` is both), joined by "|"."""
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return None
        if annotation is None:
            return None
        found = {
            target
            for node in ast.walk(annotation)
            if isinstance(node, (ast.Name, ast.Attribute))
            and (target := self.program.resolve(self.module, node)) in self.program.models
        }
        return "|".join(sorted(found)) or None

    def _annotation_class(self, annotation: ast.expr | None) -> str | None:
        if annotation is None:
            return None
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return None
        if isinstance(annotation, ast.BinOp):  # M | None
            return self._annotation_class(annotation.left) or self._annotation_class(annotation.right)
        if isinstance(annotation, ast.Subscript):  # type[M], list[M], Iterator[M]
            return self._annotation_class(annotation.slice)
        target = self.program.resolve(self.module, annotation)
        return target if target in self.program.classes else None

    def model_of(self, expr: ast.expr) -> str | None:
        """The model class a value is an instance (or a query result) of, if it can be told."""
        if isinstance(expr, ast.Name):
            found = self.types.get(expr.id, "")
            return "|".join(m for m in found.split("|") if m in self.program.models) or None
        if isinstance(expr, ast.BoolOp):  # record or Model(key)
            return next(filter(None, (self.model_of(value) for value in expr.values)), None)
        if isinstance(expr, ast.IfExp):
            return self.model_of(expr.body) or self.model_of(expr.orelse)
        if isinstance(expr, ast.Call):
            return self._made_model(expr)
        return None

    def _made_model(self, call: ast.Call) -> str | None:
        """The model of what a call gives: `M(...)`, a read or query of M, `next(...)` and
        the like of such a value, or one of our functions that returns a model."""
        func = call.func
        target = self.program.resolve(self.module, func)
        if target in self.program.models:
            return target
        if isinstance(func, ast.Attribute):
            owner = self._read_model(func)
            if owner:
                return owner
        if isinstance(func, ast.Name) and func.id in ("next", "iter", "list", "sorted") and call.args:
            return self.model_of(call.args[0])
        if target in self.program.functions:
            return self._returned_model(self.program.functions[target], call)
        return None

    def _read_model(self, method: ast.Attribute) -> str | None:
        """The model whose records `M.get`, `M.query`, ... or `M.index.query` gives."""
        owner = self._model_class(method.value)
        if owner and method.attr in ("get", "from_raw_data", "query", "scan", "batch_get"):
            return owner
        if isinstance(method.value, ast.Attribute):  # M.index.query(...)
            owner = self._model_class(method.value.value)
            if owner and method.attr == "query":
                return owner
        return None

    def _returned_model(self, callee: _Function, call: ast.Call) -> str | None:
        returns = callee.returns
        model = self._annotation_model_in(callee, returns)
        if model:
            return model
        # A TypeVar bound by a `type[T]` parameter: the class the caller passes.
        module = self.program.modules[callee.module]
        names = {n.id for n in ast.walk(returns) if isinstance(n, ast.Name)} if returns is not None else set()
        if names & module.type_vars:
            for position, arg in enumerate(call.args):
                target = self.program.resolve(self.module, arg)
                if target in self.program.models and position < len(callee.params):
                    return target
        return None

    def _annotation_model_in(self, function: _Function, annotation: ast.expr | None) -> str | None:
        # Read in the callee's module, where its annotation's names are bound.
        return _Reader(self.program, self.program.modules[function.module], function)._annotation_model(annotation)

    def _model_class(self, expr: ast.expr) -> str | None:
        target = self.program.resolve(self.module, expr)
        if target in self.program.models:
            return target
        if isinstance(expr, ast.Name) and expr.id in self.model_classes:
            return self.model_classes[expr.id]
        # A model class passed in as a parameter (`model: type[M]`): the classes its callers pass.
        if isinstance(expr, ast.Name) and expr.id in self.function.params:
            passed = self._passed(expr.id)
            return passed[0] if len(passed) == 1 else (passed and "|".join(passed)) or None
        return None

    def _passed(self, param: str) -> list[str]:
        """Model classes or table names callers pass as this function's parameter `param`."""
        key = (self.function.name, param)
        if key not in self.program.passed:
            self.program.passed[key] = self._find_passed(param) if param not in ("self", "cls") else []
        return self.program.passed[key]

    def _find_passed(self, param: str) -> list[str]:
        position = self.function.params.index(param) - (1 if self.function.cls else 0)
        found = set()
        for caller, call in self.program.call_sites(self.function.name):
            module = self.program.modules[caller.module]
            args = [kw.value for kw in call.keywords if kw.arg == param]
            if 0 <= position < len(call.args):
                args.append(call.args[position])
            for arg in args:
                model = self.program.resolve(module, arg)
                if model in self.program.models:
                    found.add(model)
                table = _table_name_model(self.program, module, arg)
                if table:
                    found.add(table)
        return sorted(found)

    def _bind(self, node: ast.AST) -> None:
        """What the names an assignment, loop, comprehension or `with` binds hold."""
        if isinstance(node, ast.withitem):
            self._bind_with(node)
            return
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            found = self._annotation_model(node.annotation) or self._annotation_class(node.annotation)
            if found and isinstance(node.target, ast.Name):
                self.types[node.target.id] = found
        bound = _bound(node)
        if bound is None:
            return
        targets, value = bound
        for target in targets:
            for name, expr in _pairs(target, value):
                if isinstance(name, ast.Name):
                    self._bind_name(name.id, expr)

    def _bind_with(self, item: ast.withitem) -> None:
        """`with TransactWrite(...) as tx` makes `tx` a transaction; `with C(...) as x` an instance of C."""
        if item.optional_vars is None:
            return
        target = self.program.resolve(self.module, getattr(item.context_expr, "func", item.context_expr))
        if isinstance(item.optional_vars, ast.Name):
            if target == "pynamodb.transactions.TransactWrite":
                self.transactions.add(item.optional_vars.id)
            elif target in self.program.classes:
                self.types[item.optional_vars.id] = target

    def _bind_name(self, name: str, expr: ast.expr) -> None:
        """`name = expr`: the model class (`type(item)`), the instance's class, or the table it holds."""
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Name)
            and expr.func.id == "type"
            and len(expr.args) == 1
        ):
            held = self.model_of(expr.args[0])
            if held:
                self.model_classes[name] = held
            return
        found = self.model_of(expr) or self._class_of(expr)
        if found:
            self.types[name] = found
        table = _table_name_model(self.program, self.module, expr)
        if table:
            self.tables[name] = (self.program.models[table], "")

    # --- edges ---

    def _edges(self, node: ast.AST) -> None:
        """The functions a name reaches: one of ours, a class's constructors, a method of a known receiver."""
        if not isinstance(node, (ast.Name, ast.Attribute)) or isinstance(self.parents.get(id(node)), ast.Attribute):
            return
        target = self.program.resolve(self.module, node)
        if target in self.program.functions:
            self.function.edges.add(target)
        elif target in self.program.classes:
            self._instantiates(target)
        elif isinstance(node, ast.Name) and node.id in self.module.var_types:
            self._instantiates(self.module.var_types[node.id])
        elif isinstance(node, ast.Attribute) and target is None:
            self._method_edge(node)
        if isinstance(node, ast.Name) and node.id in self.types:
            for held in self.types[node.id].split("|"):
                self._instantiates(held)

    def _instantiates(self, cls: str) -> None:
        """An instance of `cls` is made or held here: its methods become reachable, its constructors reached."""
        self.function.instantiates.add(cls)
        self.function.edges.update(self.program.constructors(cls))

    def _method_edge(self, node: ast.Attribute) -> None:
        """`x.method`: that method of x's class when it is known, else a name for rapid type analysis."""
        owner = self._class_of(node.value)
        if owner:
            found = self.program.method_of(owner, node.attr)
            if found:
                self.function.edges.add(found)
        elif self.program.resolve(self.module, node.value) is None:
            # A method of something whose class is not known here: resolved in `reachable`.
            self.function.method_names.add(node.attr)

    def _class_of(self, expr: ast.expr) -> str | None:
        """Which of our classes a receiver is an instance of, when it can be told."""
        if isinstance(expr, ast.Name):
            if expr.id == "self" and self.function.cls:
                return f"{self.function.module}.{self.function.cls}"
            return self.types.get(expr.id) or self.module.var_types.get(expr.id)
        if isinstance(expr, ast.Call):
            target = self.program.resolve(self.module, expr.func)
            if target in self.program.classes:
                return target
        return None

    # --- AWS calls ---

    def _call(self, call: ast.Call) -> None:
        """A method call that may reach AWS: read by the first family that knows it (a
        transaction's, a model class's, a model instance's, a botocore client's)."""
        func = call.func
        if not isinstance(func, ast.Attribute):
            return
        for family in (self._transaction_call, self._class_call, self._instance_call, self._client_call):
            if family(call, func.attr, func.value):
                return

    def _transaction_call(self, call: ast.Call, method: str, receiver: ast.expr) -> bool:
        """A transaction's item: tx.save(item), tx.update(item), tx.condition_check(M, ...)."""
        if not (isinstance(receiver, ast.Name) and receiver.id in self.transactions and method in _TRANSACTION_METHODS):
            return False
        first = call.args[0] if call.args else None
        model = None
        if first is not None:
            model = self._model_class(first) if method == "condition_check" else self.model_of(first)
        if model:
            for m in model.split("|"):
                self.function.calls.add(Call(_TRANSACTION_METHODS[method], self.program.models[m]))
        else:
            self._problem(call, f"the model of a transaction's {method}")
        return True

    def _class_call(self, call: ast.Call, method: str, receiver: ast.expr) -> bool:
        """A model class's: M.method(...) and M.index.query(...)."""
        owner = self._model_class(receiver)
        if owner and method in _CLASS_METHODS:
            for m in owner.split("|"):
                self.function.calls.add(Call(_CLASS_METHODS[method], self.program.models[m]))
            return True
        if isinstance(receiver, ast.Attribute) and method in ("query", "scan", "count"):
            owner = self._model_class(receiver.value)
            if owner:
                index = self.program._indexes(owner).get(receiver.attr)
                if index is None:
                    self._problem(call, f"{receiver.attr} is no index of {owner}")
                else:
                    self.function.calls.add(Call(_CLASS_METHODS[method], self.program.models[owner], index))
                return True
        return False

    def _instance_call(self, call: ast.Call, method: str, receiver: ast.expr) -> bool:
        """A model instance's: x.save() / update() / delete() / refresh(); a parameter's model is left to its callers."""
        if method not in _INSTANCE_METHODS:
            return False
        model = self.model_of(receiver)
        if model:
            for m in model.split("|"):
                self.function.calls.add(Call(_INSTANCE_METHODS[method], self.program.models[m]))
            return True
        pynamodb_like = {kw.arg for kw in call.keywords} & _PYNAMODB_KEYWORDS or (
            not call.args and not call.keywords and method != "update"
        )
        if pynamodb_like and not _is_builtin_receiver(receiver) and not self._class_of(receiver):
            if isinstance(receiver, ast.Name) and receiver.id in self.function.params:
                self.function.pending.append((receiver.id, _INSTANCE_METHODS[method], call.lineno))
            else:
                self._problem(call, f"the model of `{ast.unparse(receiver)}` in .{method}()")
        return True

    def _client_call(self, call: ast.Call, method: str, receiver: ast.expr) -> bool:
        """A botocore client operation: a DynamoDB one on the tables it names, any other on its service.
        (`receiver` unused: every family takes the same arguments.)"""
        service = _OPERATION_SERVICE.get(method)
        if method == "generate_presigned_url" and call.args and isinstance(call.args[0], ast.Constant):
            service, method = "s3", call.args[0].value
        if service is None:
            return False
        actions = OPERATION_ACTIONS[service][method]
        if service != "dynamodb":
            self.function.calls.update(Call(action) for action in actions)
        elif method not in ("transact_write_items", "transact_get_items"):  # each item's dict is read on its own
            self._table_call(call, method, actions)
        return True

    def _table_call(self, call: ast.Call, method: str, actions: tuple[str, ...]) -> None:
        """A low-level DynamoDB operation: its actions on each table (and index) it names."""
        tables = self._tables_of_call(call)
        if not tables:
            self._problem(call, f"the table of {method}")
        for table, index in tables:
            for action in actions:
                self.function.calls.add(Call(action, table, index))

    def _tables_of_call(self, call: ast.Call) -> list[tuple[str, str]]:
        """The tables a low-level call names: TableName=..., RequestItems=... (a batch's), or
        **request of a known request."""
        found = []
        for kw in call.keywords:
            if kw.arg == "RequestItems":
                found += [(table, "") for table in self._request_item_tables(kw.value)]
            elif kw.arg == "TableName":
                table = self._table_of(kw.value)
                index = self._index_of(next((k.value for k in call.keywords if k.arg == "IndexName"), None))
                if table:
                    found.append((table, index))
            elif kw.arg is None:  # **request
                if isinstance(kw.value, ast.Name) and kw.value.id in self.requests:
                    table, index, _ = self.requests[kw.value.id]
                    found.append((table, index))
                elif isinstance(kw.value, ast.Call):
                    # **builder(...): the builder's request takes this call's action.
                    target = self.program.resolve(self.module, kw.value.func)
                    if target in self.program.functions:
                        self.function.request_uses.append((target, self._op_action(call)))
                        found.append(("", ""))
        return [t for t in found if t[0]] or found

    def _request_item_tables(self, expr: ast.expr) -> list[str]:
        """The tables a batch request's RequestItems is keyed by: the keys of a dict written
        there, or for a name, of every dict written to it and every key set on it."""
        keys: list[ast.expr] = []
        if isinstance(expr, ast.Dict):
            keys = [key for key in expr.keys if key is not None]
        elif isinstance(expr, ast.Name):
            for node in ast.walk(self.function.node):
                if not isinstance(node, (ast.Assign, ast.AnnAssign)):
                    continue
                value = node.value
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(target, ast.Name) and target.id == expr.id and isinstance(value, ast.Dict):
                        keys += [key for key in value.keys if key is not None]
                    elif (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == expr.id
                    ):
                        keys.append(target.slice)
        tables = []
        for key in keys:
            table = self._table_of(key)
            if table:
                tables += table.split("|")
            else:
                self._problem(key, "a table of a batch request")
        return tables

    def _op_action(self, call: ast.Call) -> str:
        assert isinstance(call.func, ast.Attribute)
        return OPERATION_ACTIONS["dynamodb"][call.func.attr][0]

    def _table_of(self, expr: ast.expr) -> str | None:
        model = _table_name_model(self.program, self.module, expr)
        if model:
            return self.program.models[model]
        if isinstance(expr, ast.Name):
            if expr.id in self.tables:
                return self.tables[expr.id][0]
            if expr.id in self.function.params:
                passed = self._passed(expr.id)
                if passed:
                    return "|".join(self.program.models[m] for m in passed)
        return None

    # --- request dicts ---

    def _request(self, node: ast.Dict) -> None:
        """A request dict: the items of a transaction in it, and its own table's call under the action it goes to."""
        keys = {k.value: v for k, v in zip(node.keys, node.values, strict=True) if isinstance(k, ast.Constant)}
        self._transact_items(keys)
        if "TableName" not in keys:
            return
        table = self._table_of(keys["TableName"])
        if not table:
            self._problem(node, "the table of a request")
            return
        index = self._index_of(keys.get("IndexName"))
        action = self._action_of(node)
        if action is None:
            self._request_placed_elsewhere(node, table, index)
            return
        for t in table.split("|"):
            self.function.calls.add(Call(action, t, index))

    def _transact_items(self, keys: dict[object, ast.expr]) -> None:
        """{"Update": builder(...)} or {"Update": request}: the builder's or the name's request takes the action."""
        for key, action in _TRANSACT_KEYS.items():
            value = keys.get(key)
            if isinstance(value, ast.Call):
                target = self.program.resolve(self.module, value.func)
                if target in self.program.functions:
                    self.function.request_uses.append((target, action))
            elif isinstance(value, ast.Name) and value.id in self.requests:
                table, index, _ = self.requests[value.id]
                for t in table.split("|"):
                    self.function.calls.add(Call(action, t, index))

    def _request_placed_elsewhere(self, node: ast.Dict, table: str, index: str) -> None:
        """A request whose action is not where it is written: held in a name, or returned to the callers."""
        parent = self.parents.get(id(node))
        if isinstance(parent, (ast.Assign, ast.AnnAssign)):
            target = parent.targets[0] if isinstance(parent, ast.Assign) else parent.target
            if isinstance(target, ast.Name):
                self.requests[target.id] = (table, index, node.lineno)
                self._used_later(target.id, table, index, node)
                return
        if isinstance(parent, ast.Return):
            self.function.returned_requests.append((table, index, node.lineno))
            return
        self._problem(node, "the action of a request")

    def _index_of(self, node: ast.expr | None) -> str:
        """The index a request's IndexName names: a string, or `M.index.Meta.index_name` of a model's index.
        Any other IndexName is a problem, never the base table: that guess hid a missing index grant."""
        if node is None:
            return ""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        chain = node.value.value if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) else None
        if isinstance(node, ast.Attribute) and node.attr == "index_name" and isinstance(chain, ast.Attribute):
            model = self._model_class(chain.value)
            index = self.program._indexes(model).get(chain.attr) if model else None
            if index:
                return index
        self._problem(node, "the index of a request")
        return ""

    def _action_of(self, node: ast.Dict) -> str | None:
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.Dict):
            for key, value in zip(parent.keys, parent.values, strict=True):
                if value is node and isinstance(key, ast.Constant) and key.value in _TRANSACT_KEYS:
                    return _TRANSACT_KEYS[key.value]
        return None

    def _used_later(self, name: str, table: str, index: str, node: ast.Dict) -> None:
        """A request held in `name`: its action is the call it is spread into, or the transaction key it goes under."""
        actions = set()
        for item in ast.walk(self.function.node):
            if (
                isinstance(item, ast.Call)
                and isinstance(item.func, ast.Attribute)
                and item.func.attr in OPERATION_ACTIONS["dynamodb"]
                and any(
                    isinstance(kw.value, ast.Name) and kw.value.id == name for kw in item.keywords if kw.arg is None
                )
            ):
                actions.update(OPERATION_ACTIONS["dynamodb"][item.func.attr])
            elif isinstance(item, ast.Dict):
                actions.update(
                    _TRANSACT_KEYS[key.value]
                    for key, value in zip(item.keys, item.values, strict=True)
                    if isinstance(value, ast.Name)
                    and value.id == name
                    and isinstance(key, ast.Constant)
                    and key.value in _TRANSACT_KEYS
                )
        if not actions:
            self._problem(node, f"the action of the request in `{name}`")
        for action in actions:
            for t in table.split("|"):
                self.function.calls.add(Call(action, t, index))

    def _problem(self, node: ast.AST, what: str) -> None:
        line = getattr(node, "lineno", 0)
        self.function.problems.append(f"{self.module.path.relative_to(self.program.root)}:{line}: cannot tell {what}")


def _meta_constant(cls: ast.ClassDef, name: str) -> str | None:
    """The string a class's inner `Meta` sets `name` to (PynamoDB's table_suffix, index_name)."""
    for item in cls.body:
        if isinstance(item, ast.ClassDef) and item.name == "Meta":
            for statement in item.body:
                if (
                    isinstance(statement, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == name for t in statement.targets)
                    and isinstance(statement.value, ast.Constant)
                ):
                    return str(statement.value.value)
    return None


def _bound(node: ast.AST) -> tuple[list[ast.expr], ast.expr] | None:
    """The targets and the value an assignment, loop or comprehension binds them to."""
    if isinstance(node, ast.Assign):
        return node.targets, node.value
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        return [node.target], node.value
    if isinstance(node, (ast.For, ast.comprehension)):
        return [node.target], node.iter
    return None


def _pairs(target: ast.expr, value: ast.expr) -> list[tuple[ast.expr, ast.expr]]:
    """Each name of a target with the value it takes: `a, b = x, y` pairs them up."""
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
        return list(zip(target.elts, value.elts, strict=False))
    return [(target, value)]


def _is_builtin_receiver(expr: ast.expr) -> bool:
    return isinstance(expr, (ast.Dict, ast.Set, ast.List))


def _table_name_model(program: Program, module: _Module, expr: ast.expr) -> str | None:
    """The model whose table `expr` names, when it is `M.Meta.table_name`."""
    if (
        isinstance(expr, ast.Attribute)
        and expr.attr == "table_name"
        and isinstance(expr.value, ast.Attribute)
        and expr.value.attr == "Meta"
    ):
        target = program.resolve(module, expr.value.value)
        if target in program.models:
            return target
    return None


@functools.cache
def program() -> Program:
    return Program()
