"""Renders chat templates the way Hugging Face transformers does (apply_chat_template with
tokenize=False): jinja2's immutable sandbox with trim_blocks and lstrip_blocks, raise_exception
and the model's special tokens in scope. make_ids.mjs pipes a JSON list of
{template, tokens, messages, add_generation_prompt} in and reads a JSON list of strings back.
Needs python3 with jinja2 (pip's Jinja2, or Debian's python3-jinja2)."""
import json
import sys

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise TemplateError(message)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
env.globals["raise_exception"] = raise_exception
out = []
for job in json.load(sys.stdin):
    template = env.from_string(job["template"])
    out.append(template.render(messages=job["messages"], tools=None, documents=None,
                               add_generation_prompt=job["add_generation_prompt"], **job["tokens"]))
json.dump(out, sys.stdout)
