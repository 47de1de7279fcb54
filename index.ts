/** Entry point for `pulumi up` / `pulumi preview`: the stack is defined in program.ts. */
import { defineStack } from "./program";

export = defineStack();
