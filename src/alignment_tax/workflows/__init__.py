"""Multi-stage jobs: each orders the stages (plan, run, store, judge, analyse) for one thing a user asks for."""
