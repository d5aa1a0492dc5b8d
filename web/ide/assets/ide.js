// policygraph's GraphiQL boot script (not vendored). It reads its settings
// from the JSON block that the Go handler writes into index.html, so the page
// needs no inline script (the Content-Security-Policy forbids one).
//
// Besides GraphiQL's own panels (documentation, history) it adds two for
// analysts who do not write GraphQL: "Examples", README's questions, each
// opened in a new tab with one click; and "Query builder", GraphiQL's explorer
// plugin (@graphiql/plugin-explorer), which writes a query as fields are
// ticked in a tree of the schema.
(function () {
  "use strict";
  var h = React.createElement;
  var config = JSON.parse(document.getElementById("pg-ide-config").textContent);
  var EXAMPLES = "Examples";
  var QUERY_BUILDER = "Query builder";

  // GraphiQL keeps the open side panel in localStorage. On a first visit
  // (nothing stored yet) open the examples; a panel closed later stays closed.
  try {
    if (window.localStorage.getItem("graphiql:visiblePlugin") === null) {
      window.localStorage.setItem("graphiql:visiblePlugin", EXAMPLES);
    }
  } catch (e) {
    // Storage disabled: GraphiQL then starts with no panel open.
  }

  function ExamplesIcon() {
    return h(
      "svg",
      { viewBox: "0 0 24 24", fill: "none", stroke: "currentColor", strokeWidth: 1.5, "aria-hidden": "true" },
      h("path", { d: "M9 6h11M9 12h11M9 18h11", strokeLinecap: "round" }),
      h("circle", { cx: 4.5, cy: 6, r: 1.25 }),
      h("circle", { cx: 4.5, cy: 12, r: 1.25 }),
      h("circle", { cx: 4.5, cy: 18, r: 1.25 })
    );
  }

  // ExamplesPanel lists the examples. A click opens the example in a new
  // tab, or switches to the tab that already holds it unchanged, so that
  // nothing typed in the current tab is lost.
  function ExamplesPanel() {
    var editor = GraphiQL.React.useEditorContext({ nonNull: true });
    // The example waiting for the tab that addTab() is creating: addTab fills
    // the new tab once React has applied it, so its text is set after that.
    var pending = React.useRef(null);
    React.useEffect(function () {
      var p = pending.current;
      if (p && editor.queryEditor && editor.tabs.length > p.tabCount) {
        pending.current = null;
        editor.queryEditor.setValue(p.document);
      }
    });

    function open(example) {
      // GraphiQL copies the editor's text into the active tab's state 100 ms
      // after each change; copy it now, so that a quick switch of tabs
      // cannot leave the tab with stale text.
      var live = editor.queryEditor ? editor.queryEditor.getValue() : null;
      if (live !== null) {
        editor.updateActiveTabValues({ query: live });
      }
      var tabs = editor.tabs;
      for (var i = 0; i < tabs.length; i++) {
        var text = i === editor.activeTabIndex ? live : tabs[i].query;
        if (text === example.document) {
          if (i !== editor.activeTabIndex) {
            editor.changeTab(i);
          }
          return;
        }
      }
      pending.current = { document: example.document, tabCount: tabs.length };
      editor.addTab();
    }

    return h(
      "section",
      { className: "pg-examples", "aria-label": EXAMPLES },
      h("div", { className: "pg-examples-header" }, EXAMPLES),
      h(
        "p",
        { className: "pg-examples-intro" },
        "The questions README answers. Click one to open its query in a new tab, then run it with \u25B6 (Ctrl-Enter)."
      ),
      h(
        "ol",
        { className: "pg-examples-list" },
        config.examples.map(function (example) {
          return h(
            "li",
            { key: example.operation },
            h(
              "button",
              {
                type: "button",
                className: "pg-example",
                "data-operation": example.operation,
                onClick: function () {
                  open(example);
                },
              },
              example.question
            )
          );
        })
      )
    );
  }

  var examplesPlugin = { title: EXAMPLES, icon: ExamplesIcon, content: ExamplesPanel };

  var explorer = GraphiQLPluginExplorer.explorerPlugin({ title: QUERY_BUILDER, showAttribution: false });
  var queryBuilderPlugin = { title: QUERY_BUILDER, icon: explorer.icon, content: explorer.content };

  var root = document.getElementById("graphiql");
  var fetcher = GraphiQL.createFetcher({ url: config.endpoint });
  ReactDOM.createRoot(root).render(
    h(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.defaultQuery,
      defaultEditorToolsVisibility: false,
      plugins: [examplesPlugin, queryBuilderPlugin],
    })
  );
})();
