from dynsync_tui.cli import main

raise SystemExit(main())
