from pi_agent.cli import main

raise SystemExit(main())
