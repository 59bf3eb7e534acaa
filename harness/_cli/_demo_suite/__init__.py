"""The tests `brownout demo` runs: the shipped reference systems, naive and hardened, from cassettes."""
