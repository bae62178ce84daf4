"""The switch: a request's path as a pipeline of declared steps.

    decide (triage) → degrade (deadline) → probe-first (where the policy declares it)
    → generate (engine, dialect, budget forcing) → record (trace) → after-answer steps

Each step is a small module here with its own tests; `pipeline.STEPS` lists them in order and
`Switch` (`thinkswitch.switch.pipeline`) runs them. Import names from their modules: this
package re-exports nothing.
"""
